"""Is a measurement right? Queueing theory (exact answers the harness must reproduce), the calibrated
target the self-test measures (infermeter/selftest.py, which drives the load generator and so sits above
it), the serving-overhead decomposition and the sanity verdict attached to every measured window. Below
load/: it imports results/ only."""
