def test_login_and_list(login):
    client = login("coordinator")
    for url in ["/tenantview/list/", "/trajectoryview/list/", "/debtview/list/", "/organisationview/list/",
                "/agreementview/list/", "/evaluationview/list/", "/contactview/list/", "/tenantview/add",
                "/trajectoryview/add", "/debtview/add", "/agreementview/add", "/evaluationview/add",
                "/signatureview/add", "/obligationview/add", "/organisationview/add", "/contactview/add"]:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[-2000:])
