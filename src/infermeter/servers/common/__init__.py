"""What every serving adapter shares: the server process's lifecycle (process), the guard that takes a
server's session down with infermeter (guard), one environment per framework (envs), servers left by a
killed run (leftovers), the code that runs inside frameworks (serving_model), copying it there
(entry_points), request bodies in the V1 "instances" format (payloads) and Prometheus scraping
(prometheus). Framework-specific code lives in the framework's own folder beside this one."""
