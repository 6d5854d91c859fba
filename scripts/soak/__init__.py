"""The soak with faults (scripts/soak.sh): the release authorizer under a Lambda Runtime
API host for hundreds of thousands of decisions while its table and its issuer misbehave.

  faults.py    the DynamoDB fault proxy and the JWKS endpoint, each with switchable modes
  issuer.py    the issuer's signing keys, their rotation, minting
  tokens.py    users and every category of token
  schedule.py  the cycle of fault phases and what happens in each
  oracle.py    which answers are right, rule by rule
  report.py    figures, JSON and the chart
  run.py       the run itself
"""
