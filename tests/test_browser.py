"""A real browser (Debian's Chromium through Playwright) opens on the gallery, follows a card to its demo's
page, opens a demo page by its address, draws a digit and sees the VAE's answer, uploads
an image and loads a test digit into the upload for it, clicks
the AAE's latent map and sees that point decoded, translates a sentence, draws a seven for the ViT,
turns a caption into samples, translates a digit between MNIST and USPS styles and into StarGAN's
domains, sees a blank page pass raw likelihood and fail the corrected score, and finds a broken
plugin reported; and checks the layout (labels, tables, one message for a refused input)."""
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


def visit(page, path: str) -> None:
    """Open one of the hub's pages by its address ("" the gallery, "vae", "system", ...)."""
    page.goto("/".join(page.url.split("/")[:3]) + "/" + path)


def draw_seven(page, canvas):
    canvas.wait_for(timeout=30_000)         # on a page just opened: the canvas, with its brush picked
    page.locator('button[aria-label="Brush"][data-hub-picked]').filter(visible=True).first.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.3
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 114, y0, steps=6)              # few pointer events: each costs the canvas a redraw
    page.mouse.move(x0 + 42, y0 + 192, steps=8)
    page.mouse.up()


def test_the_hub_opens_on_a_gallery_grouped_as_in_the_lecture_and_a_card_opens_its_demo(page):
    gallery = page.locator("#gallery")
    for group in ("Transformer", "Explicit models", "Implicit models", "Tools"):
        gallery.get_by_role("heading", name=group, exact=True).wait_for(timeout=10_000)
    card = gallery.locator('.hub-card[data-demo="pixelrnn_row"]')
    assert "PixelRNN · Row LSTM" in card.inner_text() and "test -log p(x) 81.38 nats" in card.inner_text()
    assert card.locator("img").get_attribute("src").startswith("data:image/png;base64,")
    assert gallery.locator(".hub-card img").count() >= 20                       # a thumbnail on every card
    card.click()
    page.wait_for_url("**/pixelrnn_row", timeout=30_000)
    page.locator("#page-pixelrnn_row").get_by_role("heading", name="PixelRNN · Row LSTM").wait_for(timeout=30_000)
    page.get_by_role("link", name="← All demos").click()
    gallery.wait_for(timeout=30_000)


def test_a_demo_page_opens_straight_from_its_address(page):
    visit(page, "translation")
    page.locator("#translation-input textarea").wait_for(timeout=30_000)
    assert page.get_by_role("link", name="ViT", exact=True).is_visible()            # the others of its group


def test_the_lecture_page_computes_the_lecture_example_and_follows_an_edit(page):
    visit(page, "lecture")
    steps = page.locator("#lecture-by-word")
    steps.filter(has_text="0.8808").wait_for(timeout=30_000)
    assert "| 14 |" not in steps.inner_text() and "14" in steps.inner_text()        # a table, not Markdown source
    page.get_by_label("d_k", exact=True).fill("16")
    page.get_by_label("d_k", exact=True).press("Enter")
    steps.filter(has_text="28").wait_for(timeout=30_000)                              # 112 / 4


def test_draw_a_digit_and_see_reconstruction_and_likelihood(page):
    visit(page, "vae")
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
    visit(page, "vae")
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


def test_broken_plugin_shows_its_error_and_the_system_page_lists_it(page):
    visit(page, "")
    page.locator("#gallery").get_by_text("failed at import").first.click()
    page.wait_for_url("**/system", timeout=30_000)
    page.get_by_role("button", name="Refresh").click()
    page.locator("#system-table").get_by_text("boom at import").filter(visible=True).first.wait_for(timeout=10_000)
    visit(page, "error-broken")
    page.get_by_text("boom at import").first.wait_for(timeout=10_000)


def test_click_the_aae_map_and_see_that_point_decoded(page):
    visit(page, "aae")
    page.get_by_role("tab", name="Latent map").click()
    page.locator("#aae-draw").click()
    map_image = page.locator("#aae-map img")
    map_image.wait_for(timeout=60_000)
    box = map_image.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.25)
    page.locator("#aae-where").filter(has_text="Decoded z = (").wait_for(timeout=30_000)
    assert page.locator("#aae-decoded img").get_attribute("src")


def test_translate_an_example_sentence(page):
    visit(page, "translation")
    page.locator("#translation-input textarea").fill("A brown dog is running after the black dog.")
    page.locator("#translation-go").click()
    output = page.locator("#translation-output textarea")
    page.wait_for_function("el => el.value.length > 0", arg=output.element_handle(), timeout=60_000)
    assert "Hund" in output.input_value()


def test_draw_a_seven_and_the_vit_reads_it(page):
    visit(page, "vit")
    draw_seven(page, page.locator("#vit-sketchpad canvas").first)
    page.locator("#vit-classify").click()
    label = page.locator("#vit-label")
    label.filter(has_text="%").wait_for(timeout=60_000)
    assert label.locator("h2").first.inner_text().strip() == "7"          # the top class, MNIST-preprocessed


def test_a_caption_becomes_ranked_samples(page):
    visit(page, "text2image")
    page.locator("#t2i-caption textarea").fill("a thick seven")
    page.locator("#t2i-generate").click()
    page.locator("#t2i-gallery img").first.wait_for(timeout=60_000)
    assert page.locator("#t2i-gallery img").count() == 8
    page.get_by_text("The model read: ").filter(visible=True).first.wait_for(timeout=10_000)
    gallery = page.locator("#t2i-gallery").bounding_box()
    for image in page.locator("#t2i-gallery img").all():             # all eight in view, none cut off
        box = image.bounding_box()
        assert gallery["x"] <= box["x"] and box["x"] + box["width"] <= gallery["x"] + gallery["width"] + 1
    captions = page.locator("#t2i-gallery .caption-label")
    assert captions.count() == 8 and all(not truncated(caption) for caption in captions.all())
    assert fits_sideways(page, "#t2i-ranking")


def test_cyclegan_translates_a_test_digit_and_back(page):
    visit(page, "cyclegan")
    page.locator("#cyclegan-test").click()
    page.locator("#cyclegan-note").filter(has_text="mean cycle error").wait_for(timeout=60_000)
    assert page.locator("#cyclegan-result img").get_attribute("src")


def test_stargan_renders_a_test_digit_in_a_target_domain(page):
    visit(page, "stargan")
    page.locator("#stargan-test").click()
    page.locator("#stargan-note").filter(has_text="Round trip error").wait_for(timeout=60_000)
    assert "thick, right" in page.locator("#stargan-note").inner_text()
    assert page.locator("#stargan-result img").get_attribute("src")


def test_progan_shows_one_seed_at_every_resolution(page):
    visit(page, "progan")
    page.locator("#progan-resolutions").click()
    page.locator("#progan-grid img").wait_for(timeout=60_000)
    assert page.locator("#progan-grid img").get_attribute("src")


def test_puzzlegan_assembles_a_digit_from_three_ticked_patches(page):
    visit(page, "puzzlegan")
    page.locator("#puzzlegan-keep").click()
    page.locator("#puzzlegan-note").filter(has_text="px off").wait_for(timeout=60_000)
    assert "labelled 7" in page.locator("#puzzlegan-note").inner_text()
    assert page.locator("#puzzlegan-digit img").get_attribute("src")


def test_one_caption_through_both_text_to_image_models_side_by_side(page):
    visit(page, "text2image_gan")
    page.get_by_role("tab", name="Same caption, both models").click()
    page.locator("#t2ig-side-caption textarea").fill("a thin 3")
    page.locator("#t2ig-side-go").click()
    for demo in ("text2image", "text2image_gan"):
        page.locator(f"#t2ig-side-{demo} img").first.wait_for(timeout=120_000)
        assert page.locator(f"#t2ig-side-{demo} img").count() == 8
    cells = page.locator("#t2ig-side-summary [role=gridcell]")
    cells.filter(has_text="Text-to-image GAN").first.wait_for(timeout=10_000)
    assert cells.filter(has_text="Text to image").count() == 1                 # the small DALL-E's row


def test_a_blank_page_fools_raw_likelihood_but_not_the_corrected_score(page):
    visit(page, "anomaly")
    page.locator("#anomaly-kind").get_by_text("Blank", exact=True).click()
    page.locator("#anomaly-example").click()
    summary = page.locator("#anomaly-summary")
    summary.filter(has_text="Models that flag this image").wait_for(timeout=120_000)
    assert "raw -log p(x): 0 of 4" in summary.inner_text() and "complexity corrected: 4 of 4" in summary.inner_text()
    cells = page.locator("#anomaly-implicit [role=gridcell]")
    assert cells.filter(has_text="none (samples only)").count() == 4
    assert page.locator("#anomaly-benchmark").filter(has_text="complexity corrected").count() == 1
    assert fits_sideways(page, "#anomaly-explicit") and fits_sideways(page, "#anomaly-implicit")


# ---- layout: labels beside images, not over them; whole tables; one message for a refused input ----

def truncated(locator) -> bool:
    return locator.evaluate("e => e.scrollWidth > e.clientWidth + 1")


def fits_sideways(page, table_id: str) -> bool:
    """The table shows every column: nothing to scroll sideways, and no header cut or broken inside a word
    (given a few seconds to settle: a page that has just opened lays its tables out more than once)."""
    from playwright.sync_api import TimeoutError

    try:
        page.wait_for_function(FITS, arg=table_id, timeout=5_000)
        return True
    except TimeoutError:
        return False


FITS = """(id) => {
      const table = document.querySelector(id);
      const viewport = table.querySelector('.virtual-table-viewport');
      if (viewport.scrollWidth > viewport.clientWidth + 1) return false;
      return [...table.querySelectorAll('th .header')].every((h) => {
        const words = h.textContent.trim().split(/\s+/).length;
        const lines = Math.round(h.getBoundingClientRect().height / parseFloat(getComputedStyle(h).lineHeight));
        return h.scrollWidth <= h.clientWidth + 1 && lines <= words;
      });
    }"""


def test_an_image_label_sits_above_the_image_not_over_it(page):
    visit(page, "gan")
    page.get_by_role("tab", name="Generate").filter(visible=True).first.click()
    page.get_by_role("button", name="Generate", exact=True).filter(visible=True).first.click()
    image = page.locator("#gan-samples img")
    image.wait_for(timeout=60_000)
    label = page.locator("#gan-samples [data-testid='block-label']")
    assert label.bounding_box()["y"] + label.bounding_box()["height"] <= image.bounding_box()["y"] + 1


def test_the_system_and_compare_tables_show_every_column(page):
    visit(page, "system")
    page.locator("#system-table [role=gridcell]").filter(has_text="builtin").first.wait_for(timeout=10_000)
    assert fits_sideways(page, "#system-table")
    viewport = page.locator("#system-table .virtual-table-viewport")
    assert not viewport.evaluate("e => e.scrollHeight > e.clientHeight + 1")       # no scrolling inside
    visit(page, "compare")
    page.locator("#compare-table [role=columnheader]").first.wait_for(timeout=10_000)
    assert fits_sideways(page, "#compare-table")


def test_an_empty_canvas_is_said_once_with_no_error_boxes(page):
    visit(page, "pixelrnn_diagonal")
    page.get_by_role("tab", name="Likelihood").filter(visible=True).first.click()
    page.locator("#pixelrnn-diagonal-score").click()
    message = page.get_by_text("The canvas is empty: draw a digit first.")
    message.first.wait_for(timeout=30_000)
    assert message.count() == 1
    assert page.locator('[data-testid="status-tracker"] .error').filter(visible=True).count() == 0
