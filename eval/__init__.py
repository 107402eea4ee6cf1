"""Offline evaluation of retrieval and answers against question sets with gold evidence.

One capability per module:
    questions  load question sets (this project's JSON/JSONL format and MultiHop-RAG's)
    metrics    pure scoring functions: retrieval, answers, abstention, citations, statistics
    runner     run a retriever (and optionally an answerer) over questions, aggregate scores
    report     write report.json / report.md / plots, and compare two reports
    train_answerer  learn the extractive answer's models; cross-validated report

Typical use:
    questions = load_questions("eval/questions/seed.jsonl")
    result = run_eval(questions, retrieve, answer, k=10, settings={"chunk_size": 256})
    write_report(result, "out/eval")
"""
