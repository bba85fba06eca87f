"""Data sets for twostage: the synthetic world (the default), the importer for MovieLens and
any interaction log, and a retail-shaped log generator for sizing."""
