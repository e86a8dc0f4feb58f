"""`python app.py` on a free port, driven through gradio_client like any API user would."""
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

pytestmark = pytest.mark.slow    # starts `python app.py`


@pytest.fixture(scope="module")
def client(running_hub):
    return Client(running_hub, verbose=False)


def test_every_action_has_a_stable_api_name(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/vae_sample", "/vae_reconstruct", "/vae_reconstruct_upload", "/vae_test_digit",
            "/vae_interpolate", "/vae_latent_map", "/doubler_double", "/crashy_double",
            "/system_status"} <= names


def test_vae_through_the_api(client):
    grid = np.asarray(Image.open(client.predict(1, 0.8, 3, api_name="/vae_sample")))
    assert grid.shape[:2] == (3 * 28 * 3 + 2 * 2 * 3,) * 2
    digit = client.predict(5, api_name="/vae_test_digit")
    seen, recon, report, _ = client.predict(handle_file(digit), api_name="/vae_reconstruct_upload")
    assert "log p(x)" in report and "typical" in report
    assert np.asarray(Image.open(recon)).max() > 100


def test_bad_input_over_the_api_is_a_clear_error(client):
    with pytest.raises(Exception, match="Seed must be between 0 and"):
        client.predict(-3, 1.0, 4, api_name="/vae_sample")
    with pytest.raises(Exception, match="greater than maximum value 12"):    # Gradio's slider check
        client.predict(1, 1.0, 50, api_name="/vae_sample")
    with pytest.raises(Exception, match="not an image"):
        client.predict(handle_file(__file__), api_name="/vae_reconstruct_upload")


def test_dropped_in_plugins_work_and_fail_alone(client):
    assert client.predict(21, api_name="/doubler_double") == 42
    with pytest.raises(Exception, match="other demos are not affected"):
        client.predict(1, api_name="/crashy_double")
    assert client.predict(2, api_name="/doubler_double") == 4          # still serving
    devices, table = client.predict(api_name="/system_status")
    rows = {(row[0], row[3]): row for row in table["data"]}
    assert rows[("broken", "")][5] == "error" and "boom at import" in rows[("broken", "")][6]
    assert rows[("vae", "vae")][5] == "ok" and rows[("vae", "vae")][11] is True
    assert "cpu" in devices


def test_nade_streams_through_the_api(client):
    job = client.submit(3, 2, api_name="/nade_sample")
    final = np.asarray(Image.open(job.result()))
    assert final.shape[:2] == (84, 2 * 84 + 6)
    assert len(job.outputs()) == 1 + 28                    # every streamed row arrived
    with pytest.raises(Exception, match="greater than maximum value 28"):     # Gradio's slider check
        client.predict("Test digit", 0, None, 40, 2, 0, api_name="/nade_complete")
