"""Text codecs (GSM 03.38, Latin-1, UCS2) and segmentation (UDH, SAR, message_payload); sans-I/O."""
