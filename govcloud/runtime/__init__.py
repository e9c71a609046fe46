"""Lambda handler code. Each module runs in AWS Lambda with boto3 and reads only its own event and environment."""
