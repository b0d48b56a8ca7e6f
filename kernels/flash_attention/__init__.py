"""Dense causal flash attention in Triton (prefill and decode). Import-light: the Triton
kernels load on first use (`from kernels.flash_attention.attention import ...`)."""
