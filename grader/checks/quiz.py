"""Lab 00: the concepts quiz, graded from the learner's answers file against the hashes in quiz.yaml.

quiz.yaml comes from the reference (the grader's copy), never from the submission: a learner
cannot change the key. Each question's `check` is sha256("q01:b").
"""

from __future__ import annotations

import hashlib

import yaml

from grader.catalog import register
from grader.context import Context, Fail, Verdict


def answer_hash(qid: str, choice: str) -> str:
    return hashlib.sha256(f"{qid}:{choice}".encode()).hexdigest()


def questions(ctx: Context, quiz: str) -> list[dict]:
    data = yaml.safe_load((ctx.reference / quiz).read_text())
    return list(data["questions"])


@register("quiz.answers")
def answers(
    ctx: Context, quiz: str = "labs/00-concepts/quiz.yaml", answers: str = "labs/00-concepts/answers.yaml"
) -> Verdict:
    given = ctx.yaml(answers)
    if given is None:  # the student edition: only comments and the TODO line
        given = {}
    if not isinstance(given, dict):
        raise Fail(f"{answers} must be a mapping like `q01: b`, one line per question; found {type(given).__name__}")
    parts: dict[str, list[str]] = {}
    for q in questions(ctx, quiz):
        qid, choice = q["id"], given.get(q["id"])
        choice = str(choice).strip().lower() if choice is not None else None
        if choice is None or choice == "":
            parts[qid] = [f"{qid} is not answered: add `{qid}: <letter>` to {answers}"]
        elif choice not in q["choices"]:
            parts[qid] = [f"{qid}: {choice!r} is not one of the choices {', '.join(sorted(q['choices']))}"]
        elif answer_hash(qid, choice) != q["check"]:
            parts[qid] = [
                f"{qid} ({q.get('topic', 'concepts')}): {choice} is not the best answer; "
                f"revisit lab {q.get('lab', '00')}"
            ]
        else:
            parts[qid] = []
    if not any(parts.values()):
        return Verdict(info=f"all {len(parts)} answers correct")
    return Verdict(parts=parts)
