# The probe with an unprivileged user, as the old pipeline's images had.
FROM --platform=linux/amd64 000000000000.dkr.ecr.us-east-1.amazonaws.com/splatflow/probe:test
USER 10001
