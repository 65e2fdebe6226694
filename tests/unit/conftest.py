"""The default language model behind the extraction tests, loaded once for all of them (about 25 s each time)."""

from __future__ import annotations

import pytest

from appliance import models
from appliance.results.extraction import Extractor


@pytest.fixture(scope="session")
def default_model() -> Extractor:
    try:
        path = models.resolve("llm", None).path
    except models.ModelMissing as exc:
        pytest.skip(f"the default language model is not installed ({exc}); run `appliance models prepare`")
    return Extractor(model_path=path)
