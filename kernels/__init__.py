"""Triton kernels (InfLLM v2 sparse attention, dense flash attention), each beside its
plain-PyTorch reference. Imports nothing from the rest of cpmsurvey."""
