"""Evaluation of surveys: fact score, citation quality, content quality."""
