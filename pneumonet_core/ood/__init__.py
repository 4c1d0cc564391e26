"""The out-of-distribution guard: is this scan a chest X-ray the model knows?"""
