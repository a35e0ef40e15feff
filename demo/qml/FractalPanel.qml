import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtActorsDemo

// 2. Mandelbrot tiles: one pool actor per tile; tiles appear as their actors answer.
Panel {
    id: panel

    required property FractalFacade fractal

    title: qsTr("2 · Fractal tiles")
    subtitle: qsTr("%1 pool actors, one per tile · wheel/double-click zooms, drag pans")
              .arg(panel.fractal.tileCount)

    ColumnLayout {
        anchors.fill: parent
        spacing: 6

        FractalView {
            id: view
            objectName: "fractalView"
            fractal: panel.fractal
            Layout.fillWidth: true
            Layout.fillHeight: true

            WheelHandler {
                onWheel: function (event) {
                    const p = view.toImageFraction(event.x, event.y)
                    panel.fractal.zoomAt(p.x, p.y, event.angleDelta.y > 0 ? 1.5 : 1 / 1.5)
                }
            }
            TapHandler {
                onDoubleTapped: {
                    const p = view.toImageFraction(point.position.x, point.position.y)
                    panel.fractal.zoomAt(p.x, p.y, 2)
                }
            }
            DragHandler {
                id: drag
                target: null
                onActiveChanged: {
                    if (active)
                        return
                    const a = view.toImageFraction(0, 0)
                    const b = view.toImageFraction(translation.x, translation.y)
                    panel.fractal.pan(b.x - a.x, b.y - a.y)
                }
            }
        }
        RowLayout {
            spacing: 6
            Button {
                text: qsTr("Zoom in")
                onClicked: panel.fractal.zoomAt(0.5, 0.5, 2)
            }
            Button {
                text: qsTr("Zoom out")
                onClicked: panel.fractal.zoomAt(0.5, 0.5, 0.5)
            }
            Button {
                text: qsTr("Reset")
                onClicked: panel.fractal.resetView()
            }
            Label {
                objectName: "fractalStatus"
                text: qsTr("tiles %1/%2 · %3 · zoom ×%4")
                      .arg(panel.fractal.tilesDone).arg(panel.fractal.tileCount)
                      .arg(panel.fractal.complete
                           ? qsTr("rendered in %1 ms").arg(panel.fractal.lastRenderMs.toFixed(0))
                           : qsTr("rendering…"))
                      .arg(panel.fractal.zoom.toFixed(0))
                color: "#c9d1d9"
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
        }
    }
}
