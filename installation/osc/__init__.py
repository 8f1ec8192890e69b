"""OSC: Wekinator's protocol, landmark streams, and a safe listener.

- :class:`OscReceiver` (receiver.py): generic, safe OSC in, reading
  packets with the bounded parser of packet.py.
- :class:`OscSender`, :class:`WekinatorOutputs`, :class:`WekinatorInputs`,
  :class:`LandmarkSender` (sender.py): OSC out.
- ``wekinator.py``: a Wekinator stand-in driven by its own OSC messages.
"""
from installation.osc.receiver import OscReceiver, OscReceiverError
from installation.osc.sender import (LandmarkSender, OscSender, WekinatorInputs,
                                     WekinatorOutputs, parse_destination)

__all__ = ["LandmarkSender", "OscReceiver", "OscReceiverError", "OscSender", "WekinatorInputs",
           "WekinatorOutputs", "parse_destination"]
