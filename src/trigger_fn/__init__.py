"""S3 Pipeline Trigger: start CodePipeline on the exact S3 object version that was uploaded."""
