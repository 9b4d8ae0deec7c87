"""An infermeter serving-framework plugin: Python's own http.server running infermeter's ServingModel.

Ready: GET /health answers 200 once the model is loaded. Binds: 127.0.0.1 only (the port infermeter picks).
Quirks: one request at a time per thread, no batching; it needs no environment of its own (infermeter's
Python runs it), which is why it overrides `missing()`.
"""
