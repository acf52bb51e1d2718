"""Lab 00: the concepts quiz, graded from the learner's answers file against the instructor's answer key.

quiz.yaml (questions and choices) and key.yaml (answers and explanations) come from the reference (the grader's
copy), never from the submission, so a learner cannot change either. The student edition ships no key.yaml
(lab.yaml `grader_keys`): there the check only confirms that every question has one valid letter and says the
marks come from the instructor's grader. A skip is never a pass.
"""

from __future__ import annotations

from typing import Any

import yaml

from grader.catalog import register
from grader.context import Context
from grader.verdict import Fail, Skip, Verdict


def _reference_yaml(ctx: Context, rel: str) -> Any:
    return yaml.safe_load((ctx.reference / rel).read_text())


@register("quiz.answers")
def answers(
    ctx: Context,
    quiz: str = "labs/00-concepts/quiz.yaml",
    answers: str = "labs/00-concepts/answers.yaml",
    key: str = "labs/00-concepts/key.yaml",
) -> Verdict:
    given = ctx.yaml(answers)
    if given is None:  # the student edition: only comments and the TODO line
        given = {}
    if not isinstance(given, dict):
        raise Fail(f"{answers} must be a mapping like `q01: b`, one line per question; found {type(given).__name__}")
    questions = _reference_yaml(ctx, quiz)["questions"]
    solutions = _reference_yaml(ctx, key) if (ctx.reference / key).is_file() else None
    parts: dict[str, list[str]] = {}
    for q in questions:
        qid, choice = q["id"], given.get(q["id"])
        choice = str(choice).strip().lower() if choice is not None else None
        if choice is None or choice == "":
            parts[qid] = [f"{qid} is not answered: add `{qid}: <letter>` to {answers}"]
        elif choice not in q["choices"]:
            parts[qid] = [f"{qid}: {choice!r} is not one of the choices {', '.join(sorted(q['choices']))}"]
        elif solutions is not None and choice != solutions[qid]["answer"]:
            parts[qid] = [
                f"{qid} ({q.get('topic', 'concepts')}): {choice} is not the best answer. "
                f"{solutions[qid]['explanation']}"
            ]
        else:
            parts[qid] = []
    if solutions is None:  # no key: no point can be earned here, only the form checked
        problems = [problem for found in parts.values() for problem in found]
        if problems:
            raise Fail("; ".join(problems))
        raise Skip(
            f"all {len(parts)} questions have a valid answer; the answer key is not in the student edition, "
            "so your instructor's grader marks them",
            "your instructor's grading (make grade)",
        )
    if any(parts.values()):
        return Verdict(parts=parts)
    return Verdict(info=f"all {len(parts)} answers correct")
