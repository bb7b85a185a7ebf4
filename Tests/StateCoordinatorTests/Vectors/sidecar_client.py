"""HTTP peer of the sidecar tests: python3 sidecar_client.py COMMAND URL [ARGS].
get URL [HEADER=VALUE...]      prints the status, then the body
metrics URL                    parses /metrics with prometheus_client; prints NAME VALUE per sample
events URL UNTIL [LAST_ID]     reads /events until a version >= UNTIL (rUNTIL: one after a reset); prints
                               "v N", "gap A B" and "reset" lines
reset-connections URL N        N requests whose connection is reset at once
slow URL UNTIL                 opens /events with a tiny receive buffer, prints "connected", reads nothing
                               until stdin closes, then reads as events does
flood URL N SECONDS            N connections sending half a request's headers, held for SECONDS
hosts URL COUNT                the live page's readers table, grouped by host: prints each host header once COUNT show
page URL SCREENSHOT [TOKEN]    the live page in headless Chromium (see below): prints "loaded", "seeded C D"
                               (the commit times and delays its charts started from), then the halt lines; with TOKEN, given as
                               HTTP Basic credentials in the URL, as a person would type them"""
import json, sys, urllib.request, urllib.error

def request(url, headers=()):
    req = urllib.request.Request(url)
    for header in headers:
        name, _, value = header.partition("=")
        req.add_header(name, value)
    return urllib.request.urlopen(req, timeout=30)

command, url = sys.argv[1], sys.argv[2]
if command == "get":
    try:
        with request(url, sys.argv[3:]) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    print(status)
    print(body, end="" if body.endswith("\n") else "\n")  # whole lines only: the test reads lines
elif command == "metrics":
    from prometheus_client.parser import text_string_to_metric_families
    with request(url) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4"), response.headers["Content-Type"]
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join("%s=%s" % item for item in sorted(sample.labels.items()))
            print("%s{%s} %s" % (sample.name, labels, sample.value))
elif command in ("events", "slow"):
    # UNTIL: stop at the first version >= UNTIL; rUNTIL: the first such version after a reset.
    after_reset = sys.argv[3].startswith("r")
    until = int(sys.argv[3].lstrip("r"))
    reset_seen = False
    if command == "events":
        headers = ["Last-Event-ID=" + sys.argv[4]] if len(sys.argv) > 4 else []
        lines = request(url, headers)
    else:
        import http.client, socket
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        class TinyBuffer(http.client.HTTPConnection):
            def connect(self):
                self.sock = socket.socket()
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: no autotuning
                self.sock.connect((self.host, self.port))
        connection = TinyBuffer(parts.hostname, parts.port)
        connection.request("GET", parts.path, headers={"Accept": "text/event-stream"})
        print("connected", flush=True)
        sys.stdin.read()
        lines = connection.getresponse()
    event, data = None, None
    for raw in lines:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event: "): event = line[7:]
        elif line.startswith("data: "): data = json.loads(line[6:])
        elif line == "" and event:
            if event == "version":
                print("v %d" % data["version"], flush=True)
                if data["version"] >= until and (reset_seen or not after_reset): break
            elif event == "gap":
                print("gap %d %d" % (data["from"], data["to"]), flush=True)
            elif event == "reset":
                print("reset", flush=True)
                reset_seen = True
            event, data = None, None
elif command == "reset-connections":
    # reset-connections URL N: N times, send GET and reset the connection at once (SO_LINGER 0).
    import socket, struct
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    for _ in range(int(sys.argv[3])):
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (parts.path, parts.netloc)).encode())
        sock.close()
    print("done")
elif command == "flood":
    # flood URL N SECONDS: opens N connections that each send half a request's headers, prints
    # "holding K", and keeps them open for SECONDS (a slowloris).
    import socket, time
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    held = []
    for _ in range(int(sys.argv[3])):
        try:
            connection = socket.create_connection((parts.hostname, parts.port), timeout=5)
            connection.send(b"GET /state HTTP/1.1\r\nHost: x\r\n")
            held.append(connection)
        except OSError:
            break
    print("holding %d" % len(held), flush=True)
    time.sleep(float(sys.argv[4]))
elif command == "hosts":
    # hosts URL COUNT: opens the live page in headless Chromium and prints the readers table's host
    # headers (one line each) once it shows COUNT of them, then "done".
    import time
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1000"]:
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        wanted = int(sys.argv[3])
        headers = []
        for _ in range(1500):
            headers = [element.text for element in driver.find_elements(By.CSS_SELECTOR, "#readers tr.host th")]
            if len(headers) >= wanted:
                break
            time.sleep(0.02)
        for header in headers:
            print(header, flush=True)
        print("rows %d" % len(driver.find_elements(By.CSS_SELECTOR, "#readers tr:not(.host)")), flush=True)
        print("done", flush=True)
    finally:
        driver.quit()
elif command == "page":
    # page URL SCREENSHOT: opens the live page in headless Chromium (Selenium), prints "loaded" and
    # the halt indicator's text each time it changes, until stdin closes; then saves a screenshot.
    import threading, time
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1000"]:
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    if len(sys.argv) > 4:
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        url = parts._replace(netloc="operator:%s@%s" % (sys.argv[4], parts.netloc)).geturl()
    try:
        driver.get(url)
        done = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
        seen = None
        print("loaded", flush=True)
        # What the charts started from (/recent), once the page has fetched it.
        for _ in range(500):
            if driver.execute_script("return seeded"):
                break
            time.sleep(0.02)
        print("seeded %d %d" % tuple(driver.execute_script("return [commits.length, delays.length]")), flush=True)
        while not done.is_set():
            text = driver.find_element(By.ID, "halt").text
            version = driver.find_element(By.ID, "version").text
            if (text, version) != seen:
                seen = (text, version)
                print("halt %s version %s" % (text, version), flush=True)
            time.sleep(0.02)
        driver.save_screenshot(sys.argv[3])
        print("screenshot", flush=True)
    finally:
        driver.quit()
