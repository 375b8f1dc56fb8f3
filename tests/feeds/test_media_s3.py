"""Images on posts in S3-compatible object storage (django-storages), against an S3 server the
test starts itself: moto in server mode, over real HTTP on localhost."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from feeds.media import media_create, media_unattached_purge
from feeds.media_urls import media_url
from feeds.services import post_create, post_delete
from tests.access.conftest import free_port
from tests.factories import UserFactory
from tests.media_helpers import image_bytes, upload

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "microblog-test-media"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_server():
    """An S3-compatible server on a free local port for the module, and its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_storage(s3_server, settings, monkeypatch):
    """The default storage switched to S3 (a fresh bucket), as MEDIA_S3_BUCKET would."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "file_overwrite": False,
                "default_acl": None,
            },
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_images_are_stored_served_and_deleted_in_object_storage(
    s3_storage, client, django_capture_on_commit_callbacks
):
    """Ensures that with S3 storage an upload's image and thumbnail land in the bucket, the
    signed URL serves them through the app (the bucket stays private), and deleting the post
    deletes both objects after commit."""
    author = UserFactory()
    media = media_create(owner=author, upload=upload(data=image_bytes("PNG", mode="RGBA")))
    assert _keys(s3_storage) == {media.file, media.thumbnail}
    post = post_create(author=author, text="in the bucket", media_ids=[media.pk])
    response = client.get(media_url(media, "original"))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (800, 600)
    with django_capture_on_commit_callbacks(execute=True):
        post_delete(post=post, actor=author)
    assert _keys(s3_storage) == set()


def test_the_purge_deletes_unposted_uploads_from_the_bucket(
    s3_storage, settings, django_capture_on_commit_callbacks
):
    """Ensures that the purge of unposted uploads removes their objects from the bucket."""
    settings.MEDIA_UNATTACHED_HOURS = 0
    media_create(owner=UserFactory(), upload=upload())
    assert len(_keys(s3_storage)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert media_unattached_purge() == 1
    assert _keys(s3_storage) == set()


def test_media_s3_bucket_switches_the_default_storage():
    """Ensures that MEDIA_S3_BUCKET and AWS_S3_ENDPOINT_URL in the environment make the
    default storage S3 (private objects, never overwritten), and that without them it stays
    local files."""
    script = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.STORAGES['default']))"
    )
    base = {**os.environ, "DJANGO_SETTINGS_MODULE": "microblog.settings", "DEBUG": "1"}
    base.pop("MEDIA_S3_BUCKET", None)

    def storage(env: dict) -> dict:
        command = [sys.executable, "-c", f"import django; django.setup(); {script}"]
        out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert storage(base)["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    s3 = storage({**base, "MEDIA_S3_BUCKET": "media", "AWS_S3_ENDPOINT_URL": "http://s3.test"})
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    assert s3["OPTIONS"]["bucket_name"] == "media"
    assert s3["OPTIONS"]["endpoint_url"] == "http://s3.test"
    assert s3["OPTIONS"]["default_acl"] is None and s3["OPTIONS"]["file_overwrite"] is False
