"""The bottom layer: what every clinqa package may import and nothing else is below.

    errors.py  HintedError, the one error base (message + hint), its printer and the exit codes
    paths.py   where shipped files live (models/, data/), the default index directory, the packaged MiniLM
    env.py     offline / no-telemetry environment defaults, set by every entry point
    datasets/  the one reader per dataset format (SQuAD, BioASQ, PubMedQA, MedQuAD, JSONL, BIO/CoNLL,
               label folders) and the size limits every reader applies (datasets/limits.py)

These modules import only the standard library (and the MiniLM data package): importing them
costs nothing, and they import no other clinqa package.

    training.py  the one training loop (`run_training` with hooks, the base `TrainingConfig`,
                 resumable checkpoints) that the reader, MLM and task trainers all run on;
                 torch and numpy are imported inside its functions, so importing it is free too
"""
