"""The PQ explorer's events through the Gradio API, as a visitor's browser or script calls them:
every setting the controls allow (M = 1, one-dimensional uploads, a part beyond the last) gets
an answer, and every bad upload or setting a plain refusal."""

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file

from benchmarks.app_process import free_port
from core.pq.evaluate import gaussian_mixture
from tabs import pq_explorer

NOT_DIVISIBLE = "D = 64 is not divisible by M = 3"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """The tab alone, served in this process on a free loopback port."""
    with gr.Blocks() as demo:
        pq_explorer.build()
    demo.queue().launch(
        prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True
    )
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def refusal(client: Client, *inputs, api_name: str) -> str:
    """The message of the plain refusal (a gr.Error) the event answers with."""
    with pytest.raises(Exception) as refused:  # gradio_client's AppError carries the message
        client.predict(*inputs, api_name=api_name)
    return str(refused.value)


@pytest.fixture
def save(tmp_path):
    def save(name: str, array: np.ndarray) -> str:
        path = tmp_path / name
        np.save(path, array, allow_pickle=array.dtype.hasobject)
        return str(path)

    return save


def test_one_sub_space_is_answered_and_locks_the_part_slider(client):
    markdown, figure, slider = client.predict(
        "fashion-lite0", None, 1, 2, "kmeans", api_name="/pq_quantize"
    )
    assert "kmeans, M = 1 (64 dims per sub-space)" in markdown
    assert "Sub-space 0" in str(figure)
    assert slider["maximum"] == 1 and slider["interactive"] is False


def test_one_dimensional_vectors_are_answered(client, save):
    path = save("line.npy", gaussian_mixture(count=40, dim=1))
    _upload, source, info, m, part, per_vector = client.predict(
        handle_file(path), api_name="/pq_upload"
    )
    assert source == "upload" and "40 vectors x 1 dims" in info and m == 1
    assert part["maximum"] == 1 and part["interactive"] is False
    assert [value for _, value in per_vector["choices"]] == [1, 2, 4, 8]
    markdown = client.predict("upload", handle_file(path), 1, 3, "optimal", api_name="/pq_quantize")
    assert "optimal, M = 1 (M = D: each component on its own)" in markdown[0]
    verdict, _table = client.predict("upload", handle_file(path), 2, api_name="/pq_compare")
    assert "No M < D setting spends 2 bits" in verdict


def test_settings_the_data_cannot_take_are_refused_plainly(client):
    cases = [
        ((3, 2, "kmeans"), NOT_DIVISIBLE),
        ((None, 2, "kmeans"), "M must be a whole number, not None"),
        ((0, 2, "kmeans"), "M must be a whole number from 1 to D = 64"),
        ((-64, 2, "kmeans"), "M must be a whole number from 1 to D = 64"),
        ((10**6, 2, "kmeans"), "M must be a whole number from 1 to D = 64"),
        ((16, 4, "optimal"), "needs M = D = 64, not M = 16"),
        ((64, 9, "optimal"), "greater than maximum value 8"),  # the slider's own bound
    ]
    for settings, message in cases:
        assert message in refusal(client, "fashion-lite0", None, *settings, api_name="/pq_quantize")


def test_more_centroids_than_vectors_are_refused_plainly(client, save):
    path = save("few.npy", gaussian_mixture(count=20, dim=4))
    message = refusal(client, "upload", handle_file(path), 4, 5, "optimal", api_name="/pq_quantize")
    assert "only 16 training vectors for 32 centroids" in message


@pytest.mark.parametrize(
    "name, array, message",
    [
        ("flat.npy", np.zeros(50, np.float32), "flat.npy must be a 2-D array"),
        ("ints.npy", np.ones((20, 4), np.int32), "floating-point numbers, not int32"),
        ("objects.npy", np.array([[{}] * 4] * 20, dtype=object), "holds Python objects"),
        ("empty.npy", np.zeros((0, 8), np.float32), "at least 11 vectors"),
        ("tiny.npy", np.ones((3, 8), np.float32), "at least 11 vectors"),
        ("holes.npy", np.where(np.eye(40, 8) > 0, np.nan, 1.0), "8 NaN or infinite"),
        ("same.npy", np.ones((40, 8)), "all 40 of same.npy are the same"),
        ("wide.npy", np.zeros((11, 1025), np.float16), "the explorer takes at most"),
    ],
)
def test_bad_uploads_are_dropped_and_refused_plainly(client, save, name, array, message):
    path = save(name, array)
    dropped = client.predict(handle_file(path), api_name="/pq_upload")
    assert dropped[0] is None  # the upload is cleared (the browser shows why as a warning)
    assert message in refusal(client, "upload", handle_file(path), api_name="/pq_choose_set")
    assert message in refusal(client, "upload", handle_file(path), api_name="/pq_curves")


def test_a_file_that_is_not_npy_is_refused_plainly(client, tmp_path):
    for name, content in (("text.npy", b"1 2 3"), ("empty.npy", b"")):
        path = tmp_path / name
        path.write_bytes(content)
        message = refusal(client, "upload", handle_file(str(path)), api_name="/pq_choose_set")
        assert f"{name} is not a readable NumPy .npy file" in message


def test_no_upload_asks_for_one(client):
    message = refusal(client, "upload", None, 64, 2, "optimal", api_name="/pq_quantize")
    assert "Upload a .npy file first" in message


def test_a_part_is_shown_only_for_the_set_it_was_fitted_on(client):
    client.predict("fashion-lite0", None, 16, 2, "kmeans", api_name="/pq_quantize")
    figure = client.predict("fashion-lite0", None, 15, api_name="/pq_show_part")
    assert "Sub-space 15" in str(figure)
    message = refusal(client, "fashion-lite0", None, 16, api_name="/pq_show_part")
    assert "greater than maximum value 15" in message  # the slider was fitted to M = 16
    unchanged = {"__type__": "update"}  # gr.skip(): the plot keeps what it shows
    assert client.predict("digits-smallcnn", None, 3, api_name="/pq_show_part") == unchanged
