"""What turns the repository into what AWS receives, and checks it: ``artifacts`` (``make build``:
``sam build`` with the runtime's Python, sizes and architectures checked), ``scan`` (checkov on the
template and its translation), ``packaging`` (the SAM template loaded, translated and packaged,
as ``sam package`` does; the local cloud deploys through it too), the static proofs of
``make lint`` (``iam_check``: every policy against AWS's own action catalogue, with
``intrinsics`` resolving the template to real ARN shapes; ``asl_check``: the state machine's
parameters against botocore's shapes and its paths against the state it reads) and ``tools/``
(the pinned environments of the SAM CLI, checkov, parliament, policy_sentry and the runtime's
boto3)."""
