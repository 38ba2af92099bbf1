"""Other Replicate models and chains: their input schemas, read once and kept in the store
(modelschemas.py), the shared fields mapped onto any model's inputs (fields.py), and a result
fed into another model (chain.py: ``r.then``, and its provenance manifest)."""
