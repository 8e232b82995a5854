import pytest

from drills.sandbox.apiserver.quantities import canonical_quantity
from drills.sandbox.apiserver.store import apply_defaults


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("1000m", "1"),
        ("500m", "500m"),
        ("0.5", "500m"),
        ("1500m", "1500m"),
        ("2", "2"),
        ("2000", "2k"),
        ("1024", "1024"),
        ("512Mi", "512Mi"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("1Gi", "1Gi"),
        ("128M", "128M"),
        ("1000M", "1G"),
        ("0", "0"),
        ("0.1m", "100u"),
        ("not-a-quantity", "not-a-quantity"),
    ],
)
def test_quantities_are_stored_as_the_api_server_stores_them(given: str, stored: str) -> None:
    assert canonical_quantity(given) == stored


def test_pod_template_resources_are_canonical_after_defaults() -> None:
    deployment = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "shop",
                            "resources": {
                                "limits": {"cpu": "1000m", "memory": "512Mi"},
                                "requests": {"cpu": "0.5"},
                            },
                        }
                    ]
                }
            }
        }
    }
    apply_defaults("deployments", deployment)
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "500m"}}
