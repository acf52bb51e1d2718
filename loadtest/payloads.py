"""Request bodies: digits feature rows and texts of realistic, configurable lengths."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

DIGITS_FEATURES = 64
DIGITS_MAX_PIXEL = 16  # sklearn's digits images are 8x8 with pixel values 0..16

# Plain sentences of the kind people embed (support tickets, docs, reviews). Texts are built by
# chaining them, so a "long" text reads like a paragraph rather than repeated tokens.
_SENTENCES = (
    "The deployment finished but the health check kept failing for a few minutes.",
    "How do I reset my password if I no longer have access to my email account?",
    "Our team moved the nightly batch job to a smaller instance to cut costs.",
    "The new release improves search results for short and ambiguous queries.",
    "Latency went up after the last configuration change on the load balancer.",
    "Customers in Europe reported slow page loads during the evening peak.",
    "Please send the invoice for last month to the accounting department.",
    "The container restarted three times because it ran out of memory.",
    "A quantized model is smaller and often faster on CPUs without losing much accuracy.",
    "The delivery arrived two days late and the box was slightly damaged.",
    "We need a dashboard that shows error rates and request volume per service.",
    "The autoscaler added two replicas when CPU usage crossed the target.",
    "Can you recommend a good book about distributed systems for beginners?",
    "The meeting about the migration plan has been moved to Thursday morning.",
    "Battery life on this laptop is excellent, but the keyboard feels cheap.",
    "Requests that wait too long in the queue should be rejected early.",
    "The recipe calls for two cups of flour, one egg and a pinch of salt.",
    "Security patches are applied automatically every Sunday night.",
    "The support agent solved my problem quickly and was very polite.",
    "Training the model again with more data improved recall on rare classes.",
)


MAX_WORDS = 1000


@dataclass(frozen=True)
class TextLength:
    """Number of words per text, drawn uniformly in [min_words, max_words]."""

    min_words: int
    max_words: int

    @classmethod
    def parse(cls, spec: str) -> TextLength:
        """'short', 'medium', 'long', 'N' or 'MIN-MAX' (words)."""
        if spec in TEXT_PRESETS:
            return TEXT_PRESETS[spec]
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", spec.strip())
        if not match:
            raise ValueError(f"text length {spec!r}: use short, medium, long, N or MIN-MAX words")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not 1 <= low <= high:
            raise ValueError(f"text length {spec!r}: need 1 <= MIN <= MAX")
        if high > MAX_WORDS:  # each text is built in memory, and the server reads only the first 128 tokens anyway
            raise ValueError(f"text length {spec!r}: at most {MAX_WORDS} words")
        return cls(low, high)


# About 1.3 tokens per English word: "long" texts come close to the 128-token limit.
TEXT_PRESETS = {
    "short": TextLength(5, 15),
    "medium": TextLength(20, 40),
    "long": TextLength(60, 90),
}


@dataclass(frozen=True)
class InputSpec:
    """The one v2 input a user class sends, as a model's metadata would declare it (-1: any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def describe(self) -> str:
        return f"{self.datatype} {list(self.shape)} as input {self.name!r}"

    def as_column(self) -> InputSpec:
        """One value per row sent as a column, [-1] as [-1, 1] (Triton's way: see preflight.wants_columns)."""
        return InputSpec(self.name, self.datatype, (*self.shape, 1)) if len(self.shape) == 1 else self


DIGITS_INPUT = InputSpec("input", "FP32", (-1, DIGITS_FEATURES))
TEXT_INPUT = InputSpec("text", "BYTES", (-1,))


def make_text(rng: random.Random, length: TextLength) -> str:
    words: list[str] = []
    target = rng.randint(length.min_words, length.max_words)
    while len(words) < target:
        words.extend(rng.choice(_SENTENCES).split())
    return " ".join(words[:target])


def make_digits_rows(rng: random.Random, rows: int) -> list[list[float]]:
    """Rows of 64 pixel values in 0..16. Latency does not depend on the values, so random ones do."""
    return [[float(rng.randint(0, DIGITS_MAX_PIXEL)) for _ in range(DIGITS_FEATURES)] for _ in range(rows)]


def digits_v2_body(rows: list[list[float]]) -> dict:
    flat = [v for row in rows for v in row]
    spec = DIGITS_INPUT
    return {
        "inputs": [{"name": spec.name, "shape": [len(rows), DIGITS_FEATURES], "datatype": spec.datatype, "data": flat}]
    }


def text_v2_body(texts: list[str], column: bool = False) -> dict:
    spec = TEXT_INPUT
    shape = [len(texts), 1] if column else [len(texts)]
    return {"inputs": [{"name": spec.name, "shape": shape, "datatype": spec.datatype, "data": texts}]}


def v1_body(instances: list) -> dict:
    return {"instances": instances}
