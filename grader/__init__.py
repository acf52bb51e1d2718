"""The grader: lab registry, checks, output formats, sandbox, batch grading and the student-edition release."""
