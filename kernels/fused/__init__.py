"""Fused elementwise kernels of the model's forward (RMSNorm with the residual add, SwiGLU's
SiLU x up, RoPE written straight into the KV cache), each with a plain-torch reference."""
