"""python -m soak (with scripts/ on PYTHONPATH): see run.py, or scripts/soak.sh."""
from .run import main

main()
