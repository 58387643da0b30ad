"""What moto leaves out of the AWS services the project uses, emulated on the local stack, one module per service.

dynamodb conflicting writes serialised (atomicity), Step Functions definitions parsed once (definition_checks), the
Distributed Map's tolerated failures and result files (distributed_map), the states:startExecution names and task
tokens (sfn_integrations), SageMaker training jobs in-process (sagemaker_training), the Firehose capture path
(firehose), embedded metrics and percentiles for CloudWatch (emf), and the quotas moto does not enforce (quotas).

These modules hold the replacements of moto's private methods; ``local/moto_patches.py`` registers and applies them.
Lambda's replacement is the local runtime itself (``local/runtime.py``), which stays beside the stack.
"""
