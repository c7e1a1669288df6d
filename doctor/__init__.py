"""``onechain doctor``: checks a deployment and says what is wrong in plain words.

One module per check; :mod:`doctor.run` runs them in order and :mod:`doctor.findings`
holds the result type and the exit code rule (0 all ok, 1 warnings, 2 failures).
"""
