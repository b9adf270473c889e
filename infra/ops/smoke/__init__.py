"""``make smoke``: an opt-in proof that the stack works on a real AWS account with real Aspose.

It deploys template.yaml under a unique stack name, puts the Aspose credentials in the stack's
secret, submits the sample ID card with the code of ``ocr-results submit``, waits for the outcome,
checks what was stored, recorded and published and that no alarm fired, and always deletes the
stack again, then reports. Every step talks to the stack through the stack client
(``infra.stack``) and reaches an account only through a :class:`~infra.ops.smoke.deployer.Deployer`:
:class:`~infra.ops.smoke.aws.AwsDeployer` (``sam deploy``) here, or the local cloud's for
``make smoke DRY_RUN=1`` (``infra.local.smoke``), so the dry run proves this very script.

Modules: ``deployer`` (the interface), ``aws`` (the AWS one), ``plan`` (the stack name, its
parameters, what will be created), ``cost`` (what a run costs), ``sample`` (the document sent),
``checks``, ``cleanup``, ``report``, ``run`` (the steps in order), ``__main__`` (credentials,
confirmation, the real run).
"""
