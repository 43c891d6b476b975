-- POSTs the JSON body in the BODY environment variable on every request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
