"""A real browser (Debian's Chromium through Playwright) opens on the overview, draws a digit and sees the VAE's answer, uploads
an image and loads a test digit into the upload for it, clicks
the AAE's latent map and sees that point decoded, translates a sentence, draws a seven for the ViT,
turns a caption into samples, and finds a broken plugin reported."""
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]    # starts `python app.py`

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def page(running_hub):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(running_hub)
        yield page
        browser.close()


def draw_seven(page, canvas):
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.3
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(20):
        page.mouse.move(x0 + i * 6, y0, steps=2)
    for i in range(25):
        page.mouse.move(x0 + 114 - i * 3, y0 + i * 8, steps=2)
    page.mouse.up()


def test_the_hub_opens_on_an_overview_of_the_demos_grouped_as_in_the_lecture(page):
    overview = page.locator("#overview")
    for group in ("Transformer", "Explicit models", "Implicit models", "Tools"):
        overview.get_by_role("heading", name=group, exact=True).wait_for(timeout=10_000)
    assert overview.get_by_text("PixelRNN · Row LSTM").is_visible()
    assert page.get_by_role("tab", selected=True).first.inner_text().strip() == "Overview"


def test_draw_a_digit_and_see_reconstruction_and_likelihood(page):
    page.get_by_role("tab", name="VAE").click()
    page.get_by_role("tab", name="Reconstruct & likelihood").click()
    draw_seven(page, page.locator("#vae-sketchpad canvas").first)
    page.locator("#vae-reconstruct").click()
    report = page.locator("#vae-likelihood")
    report.filter(has_text="log p(x)").wait_for(timeout=60_000)
    assert "Verdict" in report.inner_text()
    image = page.locator("#vae-reconstruction img")
    image.wait_for(timeout=10_000)
    assert image.get_attribute("src")


def test_upload_an_image_and_load_a_test_digit_into_the_upload(page, tmp_path):
    from PIL import Image
    page.get_by_role("tab", name="VAE").click()
    page.get_by_role("tab", name="Reconstruct & likelihood").click()
    page.get_by_role("tab", name="Upload or test digit").click()
    report = page.locator("#vae-likelihood")
    for load in ("file", "test digit"):
        before = report.inner_text()
        if load == "file":
            path = tmp_path / "one.png"
            Image.new("L", (56, 56), 255).save(path)
            Image.new("L", (8, 40), 0).save(tmp_path / "stroke.png")
            canvas = Image.open(path)
            canvas.paste(Image.open(tmp_path / "stroke.png"), (24, 8))
            canvas.save(path)
            page.locator("#vae-upload input[type=file]").set_input_files(str(path))
            page.locator("#vae-upload img").wait_for(timeout=30_000)
        else:                                                # the hub's own output, back as an input
            shown = page.locator("#vae-upload img").get_attribute("src")
            page.get_by_role("button", name="Load test digit").click()
            page.wait_for_function("([el, old]) => el.src !== old", arg=[
                page.locator("#vae-upload img").element_handle(), shown], timeout=30_000)
        page.get_by_role("button", name="Reconstruct image").click()
        page.wait_for_function("([el, old]) => el.innerText.includes('log p(x)') && el.innerText !== old",
                               arg=[report.element_handle(), before], timeout=60_000)


def test_broken_plugin_shows_its_error_and_the_system_tab_lists_it(page):
    page.get_by_role("tab", name="broken (error)").click()
    page.get_by_text("boom at import").first.wait_for(timeout=10_000)
    page.get_by_role("tab", name="System").click()
    page.get_by_role("button", name="Refresh").click()
    page.locator("#tab-system").get_by_text("boom at import").filter(visible=True).first.wait_for(timeout=10_000)


def test_click_the_aae_map_and_see_that_point_decoded(page):
    page.get_by_role("tab", name="AAE").click()
    page.get_by_role("tab", name="Latent map").click()
    page.locator("#aae-draw").click()
    map_image = page.locator("#aae-map img")
    map_image.wait_for(timeout=60_000)
    box = map_image.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.25)
    page.locator("#aae-where").filter(has_text="Decoded z = (").wait_for(timeout=30_000)
    assert page.locator("#aae-decoded img").get_attribute("src")


def test_translate_an_example_sentence(page):
    page.get_by_role("tab", name="Translation", exact=True).click()
    page.locator("#translation-input textarea").fill("A brown dog is running after the black dog.")
    page.locator("#translation-go").click()
    output = page.locator("#translation-output textarea")
    page.wait_for_function("el => el.value.length > 0", arg=output.element_handle(), timeout=60_000)
    assert "Hund" in output.input_value()


def test_draw_a_seven_and_the_vit_reads_it(page):
    page.get_by_role("tab", name="ViT", exact=True).click()
    draw_seven(page, page.locator("#vit-sketchpad canvas").first)
    page.locator("#vit-classify").click()
    label = page.locator("#vit-label")
    label.filter(has_text="%").wait_for(timeout=60_000)
    assert label.locator("h2").first.inner_text().strip() == "7"          # the top class, MNIST-preprocessed


def test_a_caption_becomes_ranked_samples(page):
    page.get_by_role("tab", name="Text to image", exact=True).click()
    page.locator("#t2i-caption textarea").fill("a thick seven")
    page.locator("#t2i-generate").click()
    page.locator("#t2i-gallery img").first.wait_for(timeout=60_000)
    assert page.locator("#t2i-gallery img").count() == 8
    page.get_by_text("The model read: ").filter(visible=True).first.wait_for(timeout=10_000)
