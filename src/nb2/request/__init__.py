"""A request's vocabulary: ``Params`` (a Nano Banana request, checked against the model
tables), ``ModelInput`` (any other Replicate model's, checked against its schema), the
reference images they carry and the earlier turns an edit sends back."""
