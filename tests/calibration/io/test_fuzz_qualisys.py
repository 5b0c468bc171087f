"""Fuzzing the Qualisys ``.qca.txt`` reader: any file gives a rig or a
:class:`~calibration.errors.CalibrationError`, never another exception."""
from __future__ import annotations

from fuzz_inputs import FUZZ, mutated, typed_or_result
from hypothesis import given
from hypothesis import strategies as st

from calibration.errors import CalibrationError
from calibration.io.qualisys import read_qualisys

QCA = b"""<?xml version='1.0' encoding='ASCII'?>
<calibration source="test">
  <cameras>
    <camera active="1" avg-residual="0.4" serial="left" model="none">
      <fov_video bottom="1079" left="0" right="1919" top="0"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="0" r23="1" r31="0" r32="-1" r33="0" x="0" y="-3000" z="1500"/>
      <intrinsic centerPointU="61440" centerPointV="34560" focalLengthU="76800" focalLengthV="76864" radialDistortion1="-1.28" radialDistortion2="0.64" radialDistortion3="0" tangentalDistortion1="0.0064" tangentalDistortion2="-0.0032"/>
    </camera>
    <camera active="1" avg-residual="0.4" serial="right" model="none">
      <fov_video bottom="1079" left="0" right="1919" top="0"/>
      <transform r11="-1" r12="0" r13="0" r21="0" r22="0" r23="1" r31="0" r32="1" r33="0" x="0" y="3000" z="1500"/>
      <intrinsic centerPointU="61440" centerPointV="34560" focalLengthU="76800" focalLengthV="76864" radialDistortion1="-0.2" radialDistortion2="0.1" radialDistortion3="0" tangentalDistortion1="0" tangentalDistortion2="0"/>
    </camera>
  </cameras>
</calibration>
"""


@FUZZ
@given(binning=st.sampled_from([1, 2]), pose2sim=st.booleans(), data=st.data())
def test_mutated_qualisys_xml(tmp_path, binning, pose2sim, data):
    path = tmp_path / "c.qca.txt"
    path.write_bytes(data.draw(mutated(QCA)))
    typed_or_result(lambda: read_qualisys(path, binning, pose2sim), CalibrationError)
