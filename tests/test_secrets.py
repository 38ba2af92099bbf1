"""The token goes only to the API host: never to disk, a repr, an error or a log line."""

import logging

import pytest

import nb2

from .conftest import TOKEN


def test_token_appears_nowhere_after_a_run(emulator, backend, tmp_path, images, caplog):
    caplog.set_level(logging.DEBUG)
    backend.data_uri_limit = 100  # exercise uploads too
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    r = s.generate("a kite", references=[images["palette"]])
    r2 = s.edit("darker")
    texts = [repr(x) for x in (s, backend, r, r2, r.params, s.history, s.store)]
    texts += [str(r.record), str(r2.record), caplog.text]
    emulator.faults.fail_next = 1
    with pytest.raises(nb2.errors.GenerationError) as failed:
        s.generate("another")
    emulator.faults.tokens = ("other",)
    with pytest.raises(nb2.errors.AuthenticationError) as refused:
        s.generate("and another")
    texts += [str(failed.value), repr(failed.value), str(refused.value), repr(refused.value)]
    for text in texts:
        assert TOKEN not in text
    files = [p for p in s.store.root.rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
    # the API host did get it, so the scans above looked for the right string
    assert TOKEN in emulator.tokens_seen


def test_the_gemini_key_appears_nowhere(tmp_path, caplog):
    import json

    from nb2.emulator import GeminiEmulator

    key = "AIza-gemini-key-0123456789"
    caplog.set_level(logging.DEBUG)
    with GeminiEmulator() as emu:
        backend = nb2.GeminiBackend(api_key=key, base_url=emu.base_url)
        s = nb2.Session(backend=backend, store=tmp_path / "runs")
        r = s.generate("a kite", resolution="1K", google_search=True)
        r2 = s.edit("darker")
        g = s.compare(prompt=["a kite", "a boat"], resolution="1K").run(batch=True)
        panel = nb2.Panel(s)
        texts = [repr(x) for x in (s, backend, r, r2, r.params, r2.params, s.history, g)]
        texts += [str(r.record), str(r2.record), caplog.text, r2._repr_mimebundle_()["text/html"]]
        texts += [json.dumps(panel.get_state(), default=str), repr(backend.describe())]
        emu.faults.unavailable_next = 9
        with pytest.raises(nb2.errors.GenerationError) as failed:
            s.generate("another", resolution="1K")
        emu.faults.api_keys = ("other",)
        with pytest.raises(nb2.errors.AuthenticationError) as refused:
            s.generate("and another", resolution="1K")
        texts += [str(failed.value), repr(failed.value), str(refused.value), repr(refused.value)]
        for text in texts:
            assert key not in text
        files = [p for p in s.store.root.rglob("*") if p.is_file()]
        assert len(files) > 5
        for path in files:
            assert key.encode() not in path.read_bytes(), path
        assert key in emu.keys_seen  # the scans looked for the right string
