"""Outline planning: schema, prompts and the plan logic as plain functions."""
