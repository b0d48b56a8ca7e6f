"""Evaluation of surveys: fact score, citation quality, content quality, reference recall.

- Import: ``markdown_import`` (any Markdown survey into writer.Survey), with
  ``citation_styles`` (numbered, footnote, author-year and link citations into markers)
  and ``references`` (reference entries and their resolution to arXiv ids);
  ``surveybench`` knows the SurveyBench folder layout.
- Without a judge: ``reference_metrics`` (precision/recall against the human survey,
  SurveyForge's coverages), ``outline`` (heading similarity by embeddings), ``structure``
  (counts and densities), ``support_proxy`` (sentence-abstract closeness, calibrated on
  DeepScholar).
- With a judge (any engine.LLM, cached on disk: ``judge``): ``fact_score``,
  ``citation_quality``, ``content_quality``; prompts and our rubric anchors in ``prompts``.
- ``runner`` scores a set of surveys, ``report`` writes tables and plots, ``pipeline``
  ties them together for ``cpmsurvey eval`` and bench/eval_surveybench.py.
"""
