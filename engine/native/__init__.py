"""The CPU decode step in C (decode.c), built on first use with the system compiler."""
