"""The web view, health endpoint and MQTT publisher: transports that let an owner watch a kiosk
from elsewhere. The pipeline publishes into a `WebHub`; `WebServer` serves it over HTTP;
`MqttPublisher` pushes events and stats to a broker. `import livedet` does not import this."""
