"""`make migrate`: move S3-source pipelines from polling or CloudTrail rules to this trigger.

Pure decisions (which sources a pipeline has, what starts them, what to deploy, what apply changes) live
apart from the AWS adapter (`account.py`), so each is tested on plain data.
"""
