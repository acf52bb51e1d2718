"""The registered lab checks (lab.yaml names them): one module per check-id prefix, named after it, so `compose.policy`
is registered in grader.checks.compose. They judge a submission with grader.policies and live probes."""
