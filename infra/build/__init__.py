"""What turns the repository into what AWS receives, and checks it: ``artifacts`` (``make build``:
``sam build`` with the runtime's Python, sizes and architectures checked), ``scan`` (checkov on the
template and its translation), ``packaging`` (the SAM template loaded, translated and packaged,
as ``sam package`` does; the local cloud deploys through it too) and ``tools/`` (the pinned
environments of the SAM CLI, checkov and the runtime's boto3)."""
