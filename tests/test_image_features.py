"""Image features (transfer learning): the development stand-in network on
real frames of the lab and street clips, through the tracking pipeline's
image stage, the feature groups and a real mapper project."""
from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from installation.errors import ModelError
from installation.features import FeatureSet
from installation.features.image import (COLUMNS, ImageNetwork, ImageStage, open_network,
                                         person_box, square, stage_for)
from installation import model_fetch, models
from installation.types import Frame, Person
from helpers import MEDIA, MEDIA_HELP, MODELS, MODELS_HELP, media_file, model_file

STAND_IN = MODELS / models.DEV_STAND_IN
LAB, STREET = MEDIA / "lab_one_person_cam01.mp4", MEDIA / "street_two_people.mp4"

needs_stand_in = pytest.mark.skipif(
    not STAND_IN.is_file(),
    reason=f"the development image network {STAND_IN.name} is not in {MODELS}: {MODELS_HELP}")
needs_media = pytest.mark.skipif(not LAB.is_file() or not STREET.is_file(),
                                 reason=f"the lab and street clips are not in {MEDIA}: {MEDIA_HELP}")


def read_frames(path: Path, indices) -> list[Frame]:
    """The frames of a clip at these indices, as the camera source gives them."""
    from installation.capture import open_source

    wanted, out = set(indices), []
    with open_source(str(path), realtime=False) as source:
        while len(out) < len(wanted):
            frame = source.read()
            if frame.index in wanted:
                out.append(frame)
    return out


def stand_pose(x0=0.4, x1=0.6, y0=0.2, y1=0.9) -> np.ndarray:
    """A pose whose landmarks fill the box (x0, y0)-(x1, y1), all visible."""
    pose = np.ones((33, 4), np.float32)
    pose[:, 0] = np.linspace(x0, x1, 33)
    pose[:, 1] = np.linspace(y0, y1, 33)
    return pose


@pytest.fixture(scope="module")
def network():
    return ImageNetwork(model_file(models.DEV_STAND_IN)).open()


@pytest.fixture(scope="module")
def clips():
    lab, street = media_file(LAB.name), media_file(STREET.name)
    person = (Person(stand_pose(), id=1),)
    return {"lab": [f.replace(people=person) for f in read_frames(lab, (0, 1, 2, 3, 40, 41))],
            "street": [f.replace(people=person) for f in read_frames(street, (0, 1, 2, 3, 40, 41))]}


def embedding(stage, frame) -> np.ndarray:
    return stage(frame).people[0].embedding


def cosine_distance(a, b) -> float:
    return 1.0 - float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# -- the network ----------------------------------------------------------------------

@needs_stand_in
def test_network_pools_the_backbones_last_feature_map(network):
    # The stand-in's own output is 5 class scores of an unknown head; the
    # vector must come from the ImageNet backbone's last map (out_relu).
    assert network.pool_ and network.tensor_.endswith("out_relu/Relu6")
    assert network.width_ == 1280 and network.input_size == (224, 224)
    assert network.model_.value_range == (-1.0, 1.0)


@needs_stand_in
@needs_media
def test_columns_named_and_finite(network, clips):
    features = FeatureSet(["pose", "image"])
    assert features.columns[-COLUMNS - 1:] == ("image.present",
                                               *(f"image.{i}" for i in range(COLUMNS)))
    assert FeatureSet(["image_person"]).columns[1] == "image_person.0"
    frame = ImageStage(network)(clips["lab"][0])
    vector = features(frame)
    image = vector[-COLUMNS - 1:]
    assert np.isfinite(vector).all()
    assert image[0] == 1.0 and np.abs(image[1:]).max() > 0.1


@needs_stand_in
@needs_media
def test_same_picture_same_vector(network, clips):
    frame = clips["lab"][0]
    for mode in ("picture", "person"):
        stage = ImageStage(network, mode)
        first, again = embedding(stage, frame), embedding(stage, frame)
        assert np.array_equal(first, again)
        # and through another interpreter of the same file
        assert np.array_equal(embedding(ImageStage(ImageNetwork(STAND_IN).open(), mode), frame),
                              first)
    features = FeatureSet(["image"])
    assert np.array_equal(features(ImageStage(network)(frame)),
                          features(ImageStage(network)(frame)))


@needs_stand_in
@needs_media
def test_different_scenes_give_different_vectors(network, clips):
    stage = ImageStage(network)
    lab = [embedding(stage, f) for f in clips["lab"]]
    street = [embedding(stage, f) for f in clips["street"]]
    within = max(cosine_distance(a, b) for group in (lab, street)
                 for a in group for b in group)
    between = min(cosine_distance(a, b) for a in lab for b in street)
    assert between > 2 * within, (between, within)


@needs_stand_in
@needs_media
def test_person_mode_embeds_each_persons_crop(network, clips):
    frame = clips["street"][0]
    left, right = Person(stand_pose(0.05, 0.3), id=1), Person(stand_pose(0.7, 0.95), id=2)
    people = ImageStage(network, "person")(frame.replace(people=(left, right))).people
    assert cosine_distance(people[0].embedding, people[1].embedding) > 0.01
    shared = ImageStage(network, "picture")(frame.replace(people=(left, right))).people
    assert np.array_equal(shared[0].embedding, shared[1].embedding)


def test_square_crop_letterboxes_and_pads():
    image = np.full((100, 50, 3), 200, np.uint8)
    whole = square(image, (25, 50), 100, 20)
    assert whole.shape == (20, 20, 3)
    assert (whole[:, :4] == 0).all() and (whole[:, -4:] == 0).all()  # letterbox bars
    assert (whole[:, 7:13] == 200).all()
    corner = square(image, (0, 0), 40, 10)          # three quarters outside the image
    assert (corner[5:, 5:] == 200).all() and (corner[:4] == 0).all()
    centre, side = person_box(Person(stand_pose(0.4, 0.6, 0.2, 0.6)), (200, 100))
    assert centre == pytest.approx((100, 40)) and side == pytest.approx(40 * 1.25)


# -- the tracking side and a project ----------------------------------------------------

@needs_stand_in
@needs_media
def test_project_records_trains_and_predicts_through_the_pipeline(tmp_path, use_models):
    """Real tracker, the pipeline's image stage, a project saved and loaded:
    the lab and the street told apart from the picture alone."""
    from installation.app.hud import Hud, stage_latencies
    from installation.mapping import ClassifierOutput, Project
    from installation.tracking.pipeline import LandmarkPipeline
    from installation.tracking.tracker import Tracker, TrackerSettings

    stage = stage_for(["pose", "image"])
    assert isinstance(stage, ImageStage) and stage.mode == "picture"
    with Tracker(TrackerSettings(hands=False), models_dir=use_models) as tracker:
        pipeline = LandmarkPipeline(tracker, image=stage)
        # The tracker finds a person a frame after it first sees them.
        tracked = {scene: [f for f in map(pipeline, read_frames(path, range(6, 36, 3)))
                           if f.people]
                   for scene, path in (("lab", LAB), ("street", STREET))}
    assert min(len(frames) for frames in tracked.values()) >= 7
    frame = tracked["lab"][0]
    assert "image" in frame.stamps and frame.stamps["image"] >= frame.stamps["identity"]
    latencies = stage_latencies(frame, frame.stamps["image"] + 0.01)
    assert "image" in latencies
    hud = Hud(visible=True)
    hud.frame_drawn(frame, frame.stamps["image"] + 0.01)
    assert any(text.strip().startswith("image ") for text, _ in hud.lines(frame.stamps["image"]))

    project = Project([ClassifierOutput("place", classes=("lab", "street"))],
                      features=["image"], path=tmp_path / "places")
    features = FeatureSet(project.features)
    for label, scene in enumerate(("lab", "street"), start=1):
        for f in tracked[scene][:4]:
            vector = features(f)
            assert vector[0] == 1.0
            project.add_example(label, vector, {"place": label})
    [report] = project.train()
    assert report.error is None
    project.save()
    loaded = Project.load(tmp_path / "places")
    assert loaded.inputs[:2] == ("image.present", "image.0")
    for label, scene in enumerate(("lab", "street"), start=1):
        for f in tracked[scene][4:]:
            assert loaded.predict(features(f))["place"] == label


def test_a_project_without_image_features_never_loads_a_model(tmp_path, monkeypatch):
    # No model anywhere: loading one would be a ModelError.
    monkeypatch.setenv("INSTALLATION_MODELS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert stage_for(["pose", "arms", "hands", "motion"]) is None
    with pytest.raises(ModelError, match="installation models fetch image_embedder"):
        stage_for(["pose", "image"])
    # and a frame passes the pipeline without an image stage untouched by it
    from installation.tracking.pipeline import LandmarkPipeline
    frame = Frame(0, 0.0, image=np.zeros((8, 8, 3), np.uint8), people=(Person(stand_pose()),),
                  tracked=True)
    assert LandmarkPipeline(None)(frame) is frame


def test_image_groups_are_absent_without_an_embedding():
    features = FeatureSet(["image"])
    frame = Frame(0, 0.0, people=(Person(stand_pose()),), tracked=True)  # a take: no picture
    assert np.array_equal(features(frame), np.zeros(COLUMNS + 1))


def test_one_image_group_per_project(monkeypatch, tmp_path):
    from installation.features import FeatureError
    with pytest.raises(FeatureError, match="keep one of them"):
        stage_for(["image", "image_person"])


def test_person_refuses_a_broken_embedding():
    with pytest.raises(ValueError, match="1-D"):
        Person(stand_pose(), embedding=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        Person(stand_pose(), embedding=np.array([1.0, np.nan]))


# -- models: resolution, bad files, fetch ------------------------------------------------

@needs_stand_in
def test_stand_in_is_found_in_the_models_folder_not_the_cache(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("INSTALLATION_MODELS", str(MODELS))
    assert models.resolve("image_embedder") == STAND_IN
    assert models.resolve("image_classifier") == STAND_IN
    assert "development stand-in" in caplog.text
    # The cache holds what fetch brought; a stand-in there is not taken.
    monkeypatch.delenv("INSTALLATION_MODELS")
    cache = models.cache_dir()
    cache.mkdir(parents=True)
    (cache / STAND_IN.name).write_bytes(STAND_IN.read_bytes())
    with pytest.raises(ModelError, match="fetch image_embedder"):
        models.resolve("image_embedder")
    rows = {r.name: r for r in models.list_models(MODELS, models.ALL_MODELS)}
    assert rows["image_embedder"].ok and "stand-in" in rows["image_embedder"].detail


def test_bad_model_files_get_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTALLATION_MODELS", str(tmp_path))
    (tmp_path / "mobilenet_v3_small.tflite").write_text("<html>not found</html>")
    with pytest.raises(ModelError, match="not a TFLite network") as error:
        models.resolve("image_embedder")
    assert "\n" not in str(error.value)
    with pytest.raises(ModelError, match="not a TFLite file"):
        ImageNetwork(tmp_path / "mobilenet_v3_small.tflite").open()


@needs_stand_in
def test_a_network_that_is_not_an_image_network_is_refused(tmp_path):
    # A real TFLite model whose input is landmarks, not a picture.
    face = model_file("face_landmarker.task")
    path = tmp_path / "blendshapes.tflite"
    path.write_bytes(zipfile.ZipFile(face).read("face_blendshapes.tflite"))
    with pytest.raises(ModelError, match="not an image network") as error:
        ImageNetwork(path).open()
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    # Cut short: damaged.
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(STAND_IN.read_bytes()[:5000])
    with pytest.raises(ModelError):
        ImageNetwork(cut).open()


def test_cli_names_the_fetch_when_the_network_is_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "INSTALLATION_MODELS"}
    env.update(XDG_CACHE_HOME=str(tmp_path), INSTALLATION_MODELS=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "installation.cli", "models", "path",
                             "image_embedder"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert "mobilenet_v3_small.tflite not found" in line
    assert "installation models fetch image_embedder" in line


@pytest.fixture
def server():
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield files, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@needs_stand_in
def test_fetch_checks_and_records_a_network(server, tmp_path):
    files, base = server
    assert models.IMAGE_MODELS["image_embedder"].url.endswith(
        "/image_embedder/mobilenet_v3_small/float32/1/mobilenet_v3_small.tflite")
    files["/net.tflite"] = STAND_IN.read_bytes()
    files["/page"] = b"<html>rate limited</html>"
    path = model_fetch.fetch("image_embedder", tmp_path, url=base + "/net.tflite", progress=False)
    assert path == tmp_path / "mobilenet_v3_small.tflite"
    assert models.sha256_of(path) == models.sha256_of(STAND_IN)
    with pytest.raises(ModelError, match="not a TFLite network"):
        model_fetch.fetch("image_classifier", tmp_path, url=base + "/page", progress=False)
    assert not (tmp_path / "efficientnet_lite0.tflite").exists()
    assert open_network("image_embedder", tmp_path).path == path


def test_image_features_are_not_recorded_from_a_take():
    """A take holds no pictures: recording image columns from one is refused, not zeros."""
    from installation.assets import DEMO_TAKE, asset_path
    from installation.commands.record import take_vectors
    from installation.mapping import ClassifierOutput, Project
    from installation.mapping.spec import MappingError

    project = Project([ClassifierOutput("pose_class", classes=("a", "b"))], features=["pose", "image"])
    with pytest.raises(MappingError, match="takes hold landmarks, not pictures"):
        take_vectors(project, asset_path(DEMO_TAKE))
    landmarks_only = Project([ClassifierOutput("pose_class", classes=("a", "b"))], features=["pose"])
    assert take_vectors(landmarks_only, asset_path(DEMO_TAKE))


@needs_stand_in
def test_a_project_notices_when_its_image_network_is_another(tmp_path, caplog):
    """A project first run through the stand-in, then through another valid
    image network under the same name (the pose detector, which reads
    pictures too and would be used without an error): one warning naming
    both files; the record is kept until someone deletes it."""
    from installation.features.network_record import RECORD, check_network

    folder = tmp_path / "places"
    folder.mkdir()
    first = ImageNetwork(STAND_IN, name="image_embedder").open()
    assert check_network(folder, first) is None  # no record yet: written
    record = (folder / RECORD).read_text()
    assert first.sha256_ in record and STAND_IN.name in record
    assert check_network(folder, ImageNetwork(STAND_IN).open()) is None  # the same file
    other = tmp_path / STAND_IN.name  # same file name, other network
    other.write_bytes(zipfile.ZipFile(model_file("pose_landmarker_full.task"))
                      .read("pose_detector.tflite"))
    line = check_network(folder, ImageNetwork(other, name="image_embedder").open())
    assert line is not None and "\n" not in line
    assert first.sha256_[:12] in line and "will be wrong" in line and str(folder / RECORD) in line
    assert line in caplog.text
    assert (folder / RECORD).read_text() == record  # not overwritten
    # A damaged record is one line too, never a crash.
    (folder / RECORD).write_text("{not json")
    assert "unreadable record" in check_network(folder, first)


@needs_stand_in
def test_the_live_feed_ties_a_project_to_its_image_network(tmp_path, use_models):
    """start_live, as `installation run` calls it, on the lab clip with a
    project using image features: the record is written beside the project."""
    from installation.app.live import start_live
    from installation.features.network_record import RECORD
    from installation.profile import profile_from_dict

    profile = profile_from_dict({"source": {"spec": str(media_file(LAB.name))}})
    feed, tracker, demo = start_live(profile.source, profile, use_models, fallback=False,
                                     features=("pose", "image"), project_folder=tmp_path)
    try:
        assert not demo and tracker is not None
        assert '"sha256"' in (tmp_path / RECORD).read_text()
    finally:
        feed.stop()
        tracker.close()
