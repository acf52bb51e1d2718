"""The result of a policy check: one problem, named by the object and the field it is in."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    check: str  # the check's name, e.g. "requests" (check_requests)
    obj: str  # the object, e.g. "Deployment/model-server"
    field: str  # the field's path, e.g. "spec.template.spec.containers[0].resources.requests.cpu"
    message: str  # what is wrong and how to fix it, one sentence

    def __str__(self) -> str:
        return f"[{self.check}] {self.obj} {self.field}: {self.message}"
