"""What a site installs beside the program: the systemd units in ``systemd/``.

They are package data, so an installed servicecycle carries them too:
``servicecycle config init --systemd DIR`` copies them out (see docs/operations.md).
"""
