"""Section writing, citation checking, assembly and exporters, as plain functions."""
