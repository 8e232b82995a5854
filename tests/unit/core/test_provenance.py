from drills.core.provenance import NOT_A_GIT_REPOSITORY, RunProvenance, sha256_hex


def test_sha256_hex_is_the_known_digest() -> None:
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_round_trip_through_a_dict_is_lossless() -> None:
    provenance = RunProvenance(operator="ana", git_commit="abc", git_dirty=True, host="h1")
    assert RunProvenance.from_dict(provenance.to_dict()) == provenance


def test_unknown_keys_are_ignored_and_missing_ones_default() -> None:
    provenance = RunProvenance.from_dict({"operator": "ana", "added_later": 1})
    assert provenance == RunProvenance(operator="ana")


def test_git_text_says_dirty_clean_not_a_repository_or_unknown() -> None:
    assert RunProvenance(git_commit="abc", git_dirty=True).git_text == "abc (dirty)"
    assert RunProvenance(git_commit="abc", git_dirty=False).git_text == "abc (clean)"
    assert RunProvenance(git_commit=NOT_A_GIT_REPOSITORY).git_text == NOT_A_GIT_REPOSITORY
    assert RunProvenance().git_text == "unknown"


def test_rows_name_unknown_facts_instead_of_leaving_them_blank() -> None:
    rows = dict(RunProvenance(operator="ana", postgresql_version="16.2").rows())
    assert rows["Operator"] == "ana"
    assert rows["PostgreSQL"] == "16.2"
    assert rows["Approved by"] == "not recorded"
    assert rows["Ticket"] == "not recorded"
    assert rows["Kubernetes"] == "unknown"
    assert list(rows)[:3] == ["Operator", "Approved by", "Ticket"]
