"""What counts as a secret, by name and by value."""


def test_url_passwords_are_found_and_masked_by_value():
    from batchdeploy.secrets import mask_url_passwords, url_passwords

    text = "a postgresql://u:p4ss@h/db and https://tok:x-abc@pypi.example/simple but not https://h/x@y"
    assert url_passwords(text) == ["p4ss", "x-abc"]
    assert mask_url_passwords(text) == "a postgresql://u:****@h/db and https://tok:****@pypi.example/simple but not https://h/x@y"
