"""dcsim: datacenter energy and AI-cluster co-design simulator.

Network, collectives, power, cooling and hardware joined in one deterministic
loop, with Gymnasium environments for control research.
"""

__version__ = "0.1.0"
